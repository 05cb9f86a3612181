"""crontick: when does a crontab line fire next?

Used by our job scheduler's dashboard to show "next run" and to detect missed runs.
Supports the five standard fields, names (``JAN``, ``MON``), ranges, steps, lists and the
``@hourly``-style macros.
"""

from crontick.fields import CronError, parse_field
from crontick.schedule import CronSchedule

__all__ = ["CronError", "CronSchedule", "parse_field"]
__version__ = "1.2.0"
