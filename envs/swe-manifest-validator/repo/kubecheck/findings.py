"""The result type of every rule."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``max()`` gives the worst one."""

    INFO = 0
    WARNING = 1
    ERROR = 2


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one manifest.

    ``path`` is a JSONPath-like location such as
    ``spec.template.spec.containers[0].resources`` so that editors can jump to it.
    """

    path: str
    rule: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.severity.name:<7} {self.rule}: {self.path}: {self.message}"
