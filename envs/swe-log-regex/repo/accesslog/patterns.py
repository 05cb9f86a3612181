"""The regular expression for one access-log line.

Supported layouts (Apache ``LogFormat`` / nginx ``log_format``)::

    common:    %h %l %u %t "%r" %>s %b
    combined:  %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"
    timed:     combined followed by the request duration in seconds (nginx $request_time)

Quoted fields are captured raw; :func:`accesslog.record.unescape` decodes them.
"""

from __future__ import annotations

import re

__all__ = ["LINE", "quoted"]


def quoted(name: str) -> str:
    """Pattern for a double-quoted field captured as group ``name`` (without the quotes)."""
    return rf'"(?P<{name}>[^"]*)"'


LINE = re.compile(
    r"^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) "
    r"\[(?P<time>[^\]]+)\] "
    + quoted("request")
    + r" (?P<status>\d{3}) (?P<size>\d+|-)"
    + r"(?: " + quoted("referer") + " " + quoted("agent") + r")?"
    + r"(?: (?P<duration>\d+(?:\.\d+)?))?"
    + r"\s*$"
)
