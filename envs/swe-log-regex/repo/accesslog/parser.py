"""Turn log lines into :class:`AccessRecord` objects.

Unparseable lines are not fatal: a log file from a busy server always has a
few (truncated writes, garbage from scanners), so they are collected with their
line numbers for the caller to report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from accesslog.patterns import LINE
from accesslog.record import AccessRecord, parse_request, parse_time, unescape

__all__ = ["ParseResult", "parse_line", "parse_lines"]


def _optional(value: str | None) -> str | None:
    return None if value in (None, "-") else unescape(value)


def parse_line(line: str) -> AccessRecord | None:
    """The record for one line, or None when the line is not in a supported format."""
    match = LINE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    try:
        time = parse_time(match["time"])
    except ValueError:
        return None
    request = unescape(match["request"])
    method, path, protocol = parse_request(request)
    return AccessRecord(
        host=match["host"],
        user=_optional(match["user"]),
        time=time,
        request=request,
        method=method,
        path=path,
        protocol=protocol,
        status=int(match["status"]),
        size=0 if match["size"] == "-" else int(match["size"]),
        referer=_optional(match["referer"]),
        agent=_optional(match["agent"]),
        duration=float(match["duration"]) if match["duration"] else None,
    )


@dataclass
class ParseResult:
    records: list[AccessRecord] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)


def parse_lines(lines: Iterable[str]) -> ParseResult:
    """Parse every line; blank lines are skipped, bad ones land in ``malformed`` with their 1-based number."""
    result = ParseResult()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = parse_line(line)
        if record is None:
            result.malformed.append((number, line.rstrip("\r\n")))
        else:
            result.records.append(record)
    return result
