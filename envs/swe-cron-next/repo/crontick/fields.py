"""Parsing of one crontab field into the set of values it allows."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DAY_OF_MONTH", "DAY_OF_WEEK", "FIELDS", "HOUR", "MINUTE", "MONTH", "CronError", "FieldSpec", "parse_field"]


class CronError(ValueError):
    """Raised for an invalid cron expression; the message names the field."""


@dataclass(frozen=True)
class FieldSpec:
    """The bounds and optional names of one field."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i

    def value(self, token: str) -> int:
        upper = token.upper()
        if upper in self.names:
            return self.low + self.names.index(upper)
        if not token.isdigit():
            raise CronError(f"{self.name}: {token!r} is not a number" + (" or a name" if self.names else ""))
        number = int(token)
        if not self.low <= number <= self.high:
            raise CronError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number


MINUTE = FieldSpec("minute", 0, 59)
HOUR = FieldSpec("hour", 0, 23)
DAY_OF_MONTH = FieldSpec("day of month", 1, 31)
MONTH = FieldSpec("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
DAY_OF_WEEK = FieldSpec("day of week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
FIELDS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


def _parse_part(part: str, spec: FieldSpec) -> range:
    """One comma-separated element: ``*``, ``5``, ``1-5``, ``*/15``, ``10-50/10`` or ``5/15``."""
    base, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronError(f"{spec.name}: step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    first, dash, last = base.partition("-")
    start = spec.value(first)
    if dash:
        end = spec.value(last)
        if end < start:
            raise CronError(f"{spec.name}: range {base!r} runs backwards")
    else:
        end = spec.high if slash else start
    return range(start, end + 1, step)


def parse_field(text: str, spec: FieldSpec) -> frozenset[int]:
    """Return the values ``text`` allows for ``spec``; Sunday may be written 0 or 7 and comes back as 0."""
    if not text:
        raise CronError(f"{spec.name}: empty field")
    values: set[int] = set()
    for part in text.split(","):
        values.update(_parse_part(part, spec))
    if spec is DAY_OF_WEEK and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)
