"""A parsed crontab schedule and the search for its next firing time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from crontick.fields import DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, CronError, parse_field

__all__ = ["MACROS", "CronSchedule"]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Feb 29 only comes back every 4 years (8 across a skipped century leap year).
_SEARCH_YEARS = 9


class CronSchedule:
    """One crontab time specification, e.g. ``CronSchedule("*/15 9-17 * * MON-FRI")``.

    Datetimes are compared on their wall-clock fields; a ``tzinfo`` is carried through unchanged.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        text = MACROS.get(expression.strip().lower(), expression)
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
        specs = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
        self.minutes, self.hours, self.days, self.months, self.weekdays = (
            parse_field(part, spec) for part, spec in zip(parts, specs, strict=True)
        )
        self._sorted_minutes = sorted(self.minutes)

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r})"

    def _day_matches(self, day: dt.date) -> bool:
        """Whether the job may run on ``day`` (cron numbers Sunday 0, Python's isoweekday 7)."""
        return day.day in self.days and day.isoweekday() % 7 in self.weekdays

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first firing time strictly after ``moment``.

        Raises:
            CronError: if the schedule can never fire (for example ``0 0 31 2 *``).
        """
        t = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        last_year = t.year + _SEARCH_YEARS
        while t.year <= last_year:
            if t.month not in self.months:
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = t.replace(year=year, month=month, day=1, hour=0, minute=0)
            elif not self._day_matches(t.date()):
                t = (t + dt.timedelta(days=1)).replace(hour=0, minute=0)
            elif t.hour not in self.hours:
                t = (t + dt.timedelta(hours=1)).replace(minute=0)
            elif t.minute not in self.minutes:
                later = [m for m in self._sorted_minutes if m > t.minute]
                t = t.replace(minute=later[0]) if later else (t + dt.timedelta(hours=1)).replace(minute=0)
            else:
                return t
        raise CronError(f"{self.expression!r} never fires (searched {_SEARCH_YEARS} years after {moment:%Y-%m-%d})")

    def iter_after(self, moment: dt.datetime) -> Iterator[dt.datetime]:
        """Every firing time after ``moment``, in order (an infinite iterator)."""
        while True:
            moment = self.next_after(moment)
            yield moment

    def missed_between(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        """Firing times in ``(start, end]``, e.g. the runs missed while the scheduler was down."""
        runs = []
        for run in self.iter_after(start):
            if run > end:
                break
            runs.append(run)
        return runs
