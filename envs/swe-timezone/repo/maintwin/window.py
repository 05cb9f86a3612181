"""A single weekly maintenance window.

Windows are written the way operators think about them, in the local time of
the site ("Sundays at 01:30 for 2h, America/New_York"), and evaluated against
instants in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from maintwin.zones import get_zone, to_utc

__all__ = ["WEEKDAYS", "Window", "parse_duration", "parse_window", "window_bounds"]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_DURATION = timedelta(hours=24)

_WINDOW = re.compile(
    r"^(?P<day>[A-Za-z]{3})\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})\s+for\s+(?P<duration>\S+)\s+(?P<zone>\S+)$"
)
_DURATION = re.compile(r"^(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?$")


def window_bounds(day: date, start: time, duration: timedelta, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants at which a window opening at wall-clock ``start`` on ``day`` opens and closes."""
    opens = datetime.combine(day, start, tzinfo=zone)
    closes = opens + duration
    return opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)


@dataclass(frozen=True)
class Window:
    """Every ``weekday`` (0 = Monday) at local ``start`` in ``tz``, open for ``duration``."""

    weekday: int
    start: time
    duration: timedelta
    tz: str

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}")
        if not timedelta(0) < self.duration <= MAX_DURATION:
            raise ValueError(f"duration must be more than 0 and at most {MAX_DURATION}, got {self.duration}")
        get_zone(self.tz)

    @property
    def zone(self) -> ZoneInfo:
        return get_zone(self.tz)

    def bounds_on(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing instant (UTC) of the occurrence that starts on local ``day``."""
        if day.weekday() != self.weekday:
            raise ValueError(f"{day} is a {WEEKDAYS[day.weekday()]}, this window opens on {WEEKDAYS[self.weekday]}")
        return window_bounds(day, self.start, self.duration, self.zone)

    def current(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence open at instant ``at`` as ``(opens, closes)`` in UTC, or None when closed.

        Opening is inclusive and closing exclusive. An occurrence may have
        started on the previous local day when it runs past midnight.
        """
        at = to_utc(at)
        local_day = at.astimezone(self.zone).date()
        for day in (local_day - timedelta(days=1), local_day):
            if day.weekday() == self.weekday:
                opens, closes = self.bounds_on(day)
                if opens <= at < closes:
                    return opens, closes
        return None

    def is_open(self, at: datetime) -> bool:
        return self.current(at) is not None

    def next_opening(self, after: datetime) -> tuple[datetime, datetime]:
        """The first occurrence that opens at or after ``after``, as ``(opens, closes)`` in UTC."""
        after = to_utc(after)
        local_day = after.astimezone(self.zone).date()
        days_ahead = (self.weekday - local_day.weekday()) % 7
        for weeks in (0, 1):
            opens, closes = self.bounds_on(local_day + timedelta(days=days_ahead + 7 * weeks))
            if opens >= after:
                return opens, closes
        raise AssertionError("a weekly window always opens within eight days")


def parse_duration(text: str) -> timedelta:
    """``"2h"``, ``"45m"`` or ``"1h30m"`` as a timedelta."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}; expected e.g. '2h', '45m' or '1h30m'")
    return timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))


def parse_window(text: str) -> Window:
    """Parse ``"Sun 01:30 for 2h America/New_York"``."""
    match = _WINDOW.match(text.strip())
    if match is None:
        raise ValueError(f"invalid window {text!r}; expected e.g. 'Sun 01:30 for 2h America/New_York'")
    day = match["day"].title()
    if day not in WEEKDAYS:
        raise ValueError(f"invalid weekday {match['day']!r} in {text!r}; use one of {', '.join(WEEKDAYS)}")
    start = time(int(match["hour"]), int(match["minute"]))
    return Window(WEEKDAYS.index(day), start, parse_duration(match["duration"]), match["zone"])
