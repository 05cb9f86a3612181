"""Errors raised while reading a configuration file."""

from __future__ import annotations

__all__ = ["ParseError"]


class ParseError(ValueError):
    """The text is not valid tinyini; carries the 1-based line number."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message
