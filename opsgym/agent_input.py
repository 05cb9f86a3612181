"""Untrusted agent input read at the door: the action's exact text, and the ``submit`` payload's JSON.

An action may be a ``str`` subclass that answers ``strip``, ``split``, ``__eq__``, ``__len__`` … differently from its
characters; :func:`plain_text` takes its characters once, as an exact ``str``, so that what the env checks, parses,
executes and records is one and the same text.

Python's :mod:`json` accepts more than JSON: ``NaN`` and ``Infinity``, a repeated key (the last one silently wins),
integers of thousands of digits, and nesting as deep as the parser's recursion allows — past that it raises
``RecursionError``, and a payload just under the limit parses but then breaks whatever walks it later (serialising the
outcome, writing the record) far from the agent's step. An answer needs none of these, so :func:`loads_strict` refuses
them up front with a message the agent can act on. Every refusal is a :class:`ValueError`, as :func:`json.loads`'s own
errors are, so a caller handles bad JSON in one place.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "action_text", "loads_strict", "plain_text", "type_name"]

MAX_DEPTH = 32
"""Arrays and objects nested deeper than this are refused (an answer is a flat object with a few small values)."""
MAX_INT_DIGITS = 19
"""Integers with more digits than a signed 64-bit integer can hold are refused."""

_SPECIAL = re.compile(r'[\[\]{}"\\]')


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside string literals, in one linear pass without recursion.

    Works on any text, valid JSON or not, and only visits brackets, quotes and backslashes.
    """
    depth = deepest = 0
    in_string = False
    escaped_at = -1  # the position a backslash inside a string escapes
    for match in _SPECIAL.finditer(text):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def plain_text(action: Any) -> str | None:
    """The plain ``str`` value of a text action, or None when it is not text.

    Why: an agent may send a ``str`` subclass whose ``strip``/``split``/``__eq__``/``__len__``/``__iter__`` … answer
    differently from its characters, so that what is checked, parsed, executed and recorded disagree.
    ``str.__str__`` returns the characters as an exact ``str`` for ``str`` and every subclass, without calling any
    overridden method, and raises TypeError for anything else — even an object that fakes ``__class__``.
    """
    try:
        return str.__str__(action)
    except TypeError:
        return None


def action_text(action: Any) -> str:
    """What to record for an action: its plain characters, or a placeholder naming the type of a non-text one.

    Never calls the action's own ``__str__``/``__repr__``: an agent's object may lie there, or raise.
    """
    text = plain_text(action)
    return f"<not text: {type_name(action)}>" if text is None else text


def type_name(value: Any) -> str:
    """The type's name for a message, without trusting an agent-made class (a metaclass may make ``__name__`` raise)."""
    try:
        return str.__str__(type(value).__name__)
    except Exception:  # any hostile class: the name is only for the message
        return "an unknown type"


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value; send a finite number or a string")


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"a number with {len(digits)} digits is too large; send it as a string")
    return int(digits)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range; send a finite number or a string")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key[:60]!r} appears twice in one object; send each key once")
        out[key] = value
    return out


def loads_strict(text: str) -> Any:
    """Parse ``text`` as strict JSON.

    Raises:
        ValueError: the text is not JSON (a :class:`json.JSONDecodeError`), or it nests deeper than
            :data:`MAX_DEPTH`, holds ``NaN``/``Infinity``, a non-finite or over-long number, or a repeated key.
    """
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"JSON nested {depth} levels deep; at most {MAX_DEPTH} levels are accepted")
    return json.loads(text, parse_constant=_constant, parse_int=_int, parse_float=_float, object_pairs_hook=_object)
