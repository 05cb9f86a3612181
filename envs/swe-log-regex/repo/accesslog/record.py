"""One parsed request and the field decoders it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = ["AccessRecord", "parse_request", "parse_time", "unescape"]

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}
_TIME = re.compile(r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)")
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def unescape(value: str) -> str:
    """Decode the escapes servers write into quoted fields (``\\"``, ``\\\\``, ``\\xHH``, ``\\n``, ...)."""

    def decode(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("x") and len(code) == 3:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, "\\" + code)

    return _ESCAPE.sub(decode, value)


def parse_time(value: str) -> datetime:
    """``10/Oct/2023:13:55:36 -0700`` as an aware datetime (locale-independent)."""
    match = _TIME.match(value)
    if match is None or match.group(2) not in _MONTHS:
        raise ValueError(f"not a log timestamp: {value!r}")
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                    tzinfo=timezone(offset))


def parse_request(value: str) -> tuple[str | None, str | None, str | None]:
    """Split ``GET /path HTTP/1.1`` into method, target and protocol; Nones for junk such as TLS noise."""
    parts = value.split(" ")
    if len(parts) == 3 and parts[0].isalpha() and parts[0].isupper():
        return parts[0], parts[1], parts[2]
    return None, None, None


@dataclass(frozen=True)
class AccessRecord:
    """One request as logged."""

    host: str
    user: str | None
    time: datetime
    request: str
    method: str | None
    path: str | None
    protocol: str | None
    status: int
    size: int
    referer: str | None = None
    agent: str | None = None
    duration: float | None = None

    @property
    def status_class(self) -> str:
        """``"2xx"``, ``"4xx"``, ..."""
        return f"{self.status // 100}xx"
