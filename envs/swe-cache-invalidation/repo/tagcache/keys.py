"""Cache keys built from several parts.

Joining parts with a plain separator makes ``("a:b", "c")`` and ``("a", "b:c")``
the same key; escaping the separator inside each part keeps keys injective.
"""

from __future__ import annotations

__all__ = ["SEPARATOR", "make_key", "split_key"]

SEPARATOR = "|"
_ESCAPE = "\\"


def _escape(part: str) -> str:
    return part.replace(_ESCAPE, _ESCAPE * 2).replace(SEPARATOR, _ESCAPE + SEPARATOR)


def make_key(namespace: str, *parts: object) -> str:
    """``namespace|part|part``, with separators inside parts escaped."""
    if not namespace:
        raise ValueError("a cache key needs a namespace")
    return SEPARATOR.join(_escape(str(part)) for part in (namespace, *parts))


def split_key(key: str) -> list[str]:
    """Inverse of :func:`make_key` (parts come back as strings)."""
    parts, current, escaped = [], [], False
    for char in key:
        if escaped:
            current.append(char)
            escaped = False
        elif char == _ESCAPE:
            escaped = True
        elif char == SEPARATOR:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
