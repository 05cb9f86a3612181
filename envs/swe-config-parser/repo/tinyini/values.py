"""Interpretation of raw values: quoting and typed conversions."""

from __future__ import annotations

__all__ = ["QUOTES", "read_quoted", "to_bool", "to_list", "unquote"]

QUOTES = ("'", '"')
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def read_quoted(raw: str) -> tuple[str, int]:
    """Decoded body of the quoted string at the start of ``raw`` and the index of its closing quote."""
    quote = raw[0]
    if quote == "'":
        end = raw.find("'", 1)
        if end == -1:
            raise ValueError("unterminated quoted string")
        return raw[1:end], end
    body: list[str] = []
    index = 1
    while index < len(raw):
        char = raw[index]
        if char == "\\" and index + 1 < len(raw):
            escape = raw[index + 1]
            if escape not in _ESCAPES:
                raise ValueError(f"unknown escape sequence \\{escape}")
            body.append(_ESCAPES[escape])
            index += 2
            continue
        if char == quote:
            return "".join(body), index
        body.append(char)
        index += 1
    raise ValueError("unterminated quoted string")


def unquote(raw: str) -> str:
    """The value of ``raw``: quoted strings are decoded, anything else is returned as is.

    Single quotes are literal; double quotes understand ``\\n``, ``\\t``,
    ``\\\\`` and ``\\"``. Quoting is how a value keeps leading or trailing
    whitespace or comment characters.
    """
    if not raw or raw[0] not in QUOTES:
        return raw
    body, end = read_quoted(raw)
    if raw[end + 1 :].strip():
        raise ValueError(f"unexpected text after closing quote: {raw[end + 1:].strip()!r}")
    return body


def to_bool(value: str) -> bool:
    """``yes/no``, ``true/false``, ``on/off`` or ``1/0`` (case-insensitive)."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r} (use yes/no, true/false, on/off or 1/0)")


def to_list(value: str) -> list[str]:
    """Items separated by commas or newlines, stripped, empty items dropped."""
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]
