"""The :class:`Version` value type: parsing, formatting, precedence and bumping."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

__all__ = ["InvalidVersion", "Version", "parse"]

# The official regular expression from semver.org, with named groups.
_SEMVER_RE = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class InvalidVersion(ValueError):
    """Raised for a string that is not a Semantic Version."""


@functools.total_ordering
@dataclass(frozen=True)
class Version:
    """A Semantic Version. Build metadata is kept for display but ignored by comparisons."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``"1.2.3-rc.1+build.5"``; a leading ``v`` (as in git tags) is accepted."""
        match = _SEMVER_RE.match(text.strip().removeprefix("v"))
        if match is None:
            raise InvalidVersion(f"not a semantic version: {text!r}")
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            tuple(match["prerelease"].split(".")) if match["prerelease"] else (),
            tuple(match["build"].split(".")) if match["build"] else (),
        )

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def _precedence_key(self) -> tuple:
        """Sort key implementing semver precedence (spec item 11).

        A release sorts after every pre-release of the same version, so the key carries a
        flag that is true for releases before the pre-release identifiers themselves.
        """
        return (self.major, self.minor, self.patch, not self.prerelease, ".".join(self.prerelease))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() == other._precedence_key()

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() < other._precedence_key()

    def __hash__(self) -> int:
        return hash(self._precedence_key())

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text

    def bump(self, part: str) -> Version:
        """Next version for ``part`` in ``major``, ``minor``, ``patch``; pre-release and build are dropped.

        Bumping the patch of a pre-release gives its release (``1.2.3-rc.1`` -> ``1.2.3``), as npm does.
        """
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + (0 if self.prerelease else 1))
        raise ValueError(f"part must be 'major', 'minor' or 'patch', not {part!r}")


def parse(text: str) -> Version:
    """Shorthand for :meth:`Version.parse`."""
    return Version.parse(text)
