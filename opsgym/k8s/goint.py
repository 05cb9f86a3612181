"""Integers as Go reads them: kubectl parses integer flags and YAML integers with ``strconv.ParseInt(text, 0, 64)``.

A rule that compares a value to ``"0"`` misses ``-0``, ``00``, ``0x0`` or ``0_0``; both the kubectl front-end (which
classifies ``--replicas=0x0`` as a scale to zero) and the scoring read integers through this one function.
"""

from __future__ import annotations

__all__ = ["go_int"]

_GO_BASES = {"x": 16, "o": 8, "b": 2}
_GO_DIGITS = "0123456789abcdef"


def _underscores_ok(digits: str, prefixed: bool) -> bool:
    """Go's rule for ``_`` in a base-0 literal: only between digits, or between a base prefix and a digit."""
    saw = "0" if prefixed else "^"
    for char in digits:
        if char == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            saw = "0"
    return saw != "_"


def go_int(text: str) -> int | None:
    """The integer Go's ``strconv.ParseInt(text, 0, 64)`` reads, or None where it reports a syntax error.

    ``-0``, ``+0``, ``00``, ``0x0``, ``0o0``, ``0b0`` and ``0_0`` all mean 0; a leading ``0`` alone makes the rest
    octal (``010`` is 8, ``08`` is an error).
    """
    body = text[1:] if text[:1] in ("+", "-") else text
    base, prefixed = 10, False
    if body[:1] == "0":
        if len(body) >= 3 and body[1].lower() in _GO_BASES:
            base, body, prefixed = _GO_BASES[body[1].lower()], body[2:], True
        else:
            base = 8  # the leading 0 stays a digit: "0" and "00" are both 0
    allowed = _GO_DIGITS[:base] + "_"
    if not body or any(c not in allowed for c in body.lower()) or not _underscores_ok(body, prefixed):
        return None
    value = int(body.replace("_", ""), base)
    return -value if text[:1] == "-" else value
