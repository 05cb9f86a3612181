"""Parse and summarise web server access logs in the (extended) combined format."""

from accesslog.parser import ParseResult, parse_line, parse_lines
from accesslog.record import AccessRecord
from accesslog.stats import Summary, summarize

__all__ = ["AccessRecord", "ParseResult", "Summary", "parse_line", "parse_lines", "summarize"]
