"""Split configuration text into section, assignment and continuation tokens.

The dialect:

* ``[name]`` starts a section; ``key = value`` or ``key: value`` assigns.
* Lines whose first non-blank character is ``#`` or ``;`` are comments.
* ``#`` and ``;`` also start an *inline* comment, but only after whitespace,
  so ``http://host/#anchor`` and ``a;b`` stay intact.
* An indented line right after an assignment continues its value.
* Values keep their quotes here; :mod:`tinyini.values` interprets them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tinyini.errors import ParseError

__all__ = ["Token", "strip_inline_comment", "tokenize"]

_SECTION = re.compile(r"^\[(?P<name>[^\]]*)\]\s*(?:[#;].*)?$")
_INLINE_COMMENT = re.compile(r"\s[#;]")
_COMMENT_PREFIXES = ("#", ";")


@dataclass(frozen=True)
class Token:
    """One meaningful line of input."""

    kind: Literal["section", "assign", "continue"]
    line: int
    name: str = ""
    value: str = ""


def strip_inline_comment(text: str) -> str:
    """``text`` without a trailing inline comment and trailing whitespace."""
    match = _INLINE_COMMENT.search(text)
    return (text[: match.start()] if match else text).rstrip()


def _split_assignment(text: str, line: int) -> tuple[str, str]:
    positions = [i for i in (text.find("="), text.find(":")) if i != -1]
    if not positions:
        raise ParseError(line, f"expected 'key = value' or '[section]', got {text!r}")
    cut = min(positions)
    key = text[:cut].strip()
    if not key:
        raise ParseError(line, "missing key before '='")
    return key, strip_inline_comment(text[cut + 1 :].lstrip())


def tokenize(text: str) -> Iterator[Token]:
    """Yield the tokens of ``text`` in order; blank and comment lines produce none."""
    can_continue = False
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            can_continue = False
            continue
        if stripped.startswith(_COMMENT_PREFIXES):
            continue
        if raw[0] in " \t":
            if not can_continue:
                raise ParseError(number, "unexpected indentation (continuation line without a value to continue)")
            yield Token("continue", number, value=strip_inline_comment(stripped))
            continue
        section = _SECTION.match(stripped)
        if section:
            name = section["name"].strip()
            if not name:
                raise ParseError(number, "empty section name")
            can_continue = False
            yield Token("section", number, name=name)
            continue
        key, value = _split_assignment(stripped, number)
        can_continue = True
        yield Token("assign", number, name=key, value=value)
