"""Version constraints: ``>=1.2.0 <2.0.0``, ``^1.4``, ``~1.4.2``, ``1.x``, ``||`` alternatives."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from semverkit.version import InvalidVersion, Version

__all__ = ["Range", "max_satisfying", "satisfies"]

_OPS: dict[str, Callable[[Version, Version], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_COMPARATOR_RE = re.compile(r"^(?P<op>>=|<=|>|<|=|\^|~)?v?(?P<version>[0-9xX*][0-9A-Za-z.+-]*)$")

Comparator = tuple[Callable[[Version, Version], bool], Version]


def _partial(text: str) -> tuple[list[int], str]:
    """Split ``"1.4"``, ``"1.x"`` or ``"1.4.2-rc.1"`` into known numeric parts and a pre-release suffix."""
    core, _, prerelease = text.partition("-")
    numbers = []
    for piece in core.split("."):
        if piece in ("x", "X", "*"):
            break
        if not piece.isdigit():
            raise InvalidVersion(f"bad version in range: {text!r}")
        numbers.append(int(piece))
    if len(numbers) > 3:
        raise InvalidVersion(f"bad version in range: {text!r}")
    return numbers, prerelease


def _expand(op: str, text: str) -> list[Comparator]:
    """Turn one comparator (possibly partial, caret or tilde) into plain ``(op, version)`` pairs.

    Upper bounds carry the pre-release ``0`` (``<2.0.0-0``) so that pre-releases of the next
    major are excluded, as npm does.
    """
    numbers, prerelease = _partial(text)
    if not numbers:
        return []  # "*" and "x" match everything
    padded = numbers + [0] * (3 - len(numbers))
    low = Version(*padded, tuple(prerelease.split(".")) if prerelease else ())
    if op == "^":
        bump = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    elif op == "~":
        bump = min(len(numbers) - 1, 1)
    elif op in ("", "=") and len(numbers) < 3:
        bump = len(numbers) - 1
    else:
        return [(_OPS[op or "="], low)]
    high = padded[: bump + 1]
    high[bump] += 1
    return [(operator.ge, low), (operator.lt, Version(*(high + [0] * (2 - bump)), ("0",)))]


@dataclass(frozen=True)
class Range:
    """A parsed constraint: a disjunction (``||``) of conjunctions of comparators.

    Unlike npm, a pre-release matches a range like any other version would: our release
    tooling pins release candidates explicitly (``>=2.0.0-rc.1``) and expects them to match.
    """

    alternatives: tuple[tuple[Comparator, ...], ...]

    @classmethod
    def parse(cls, text: str) -> Range:
        alternatives = []
        for part in text.split("||"):
            comparators: list[Comparator] = []
            for token in part.split():
                match = _COMPARATOR_RE.match(token)
                if match is None:
                    raise InvalidVersion(f"bad comparator {token!r} in range {text!r}")
                comparators += _expand(match["op"] or "", match["version"])
            alternatives.append(tuple(comparators))
        return cls(tuple(alternatives))

    def __contains__(self, version: Version) -> bool:
        return any(all(op(version, bound) for op, bound in conj) for conj in self.alternatives)


def satisfies(version: str | Version, constraint: str) -> bool:
    """True if ``version`` matches ``constraint``."""
    if isinstance(version, str):
        version = Version.parse(version)
    return version in Range.parse(constraint)


def max_satisfying(versions: Iterable[str], constraint: str) -> str | None:
    """The highest version string in ``versions`` matching ``constraint``; unparsable entries are skipped."""
    wanted = Range.parse(constraint)
    best: tuple[Version, str] | None = None
    for text in versions:
        try:
            version = Version.parse(text)
        except InvalidVersion:
            continue
        if version in wanted and (best is None or version > best[0]):
            best = (version, text)
    return best[1] if best else None
