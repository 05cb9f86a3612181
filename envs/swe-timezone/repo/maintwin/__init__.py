"""Recurring weekly maintenance windows, defined in local time, evaluated in UTC."""

from maintwin.schedule import Schedule, parse_schedule
from maintwin.window import Window, parse_window, window_bounds
from maintwin.zones import NaiveDatetimeError, UnknownZoneError, get_zone, to_utc

__all__ = [
    "NaiveDatetimeError",
    "Schedule",
    "UnknownZoneError",
    "Window",
    "get_zone",
    "parse_schedule",
    "parse_window",
    "to_utc",
    "window_bounds",
]
