"""Grading a repository's end state the way SWE-bench does: apply the test patch, run the listed tests, compare.

Per-test outcomes come from the sandbox's outcome channel (:mod:`opsgym.swe.report_channel`), not from pytest's
printed report, which the code under test can print to. A test counts as *passed* when it is PASSED or XFAIL and as
*failed* otherwise — missing from the report (not collected, its file gone or failing to import, or the channel not
trusted), FAILED, ERROR, or SKIPPED. SWE-bench leaves a skipped
test out of both counts; we count it as failed, because otherwise a ``conftest.py`` that skips everything would
"resolve" any task. The resolution is SWE-bench's:

* ``RESOLVED_FULL``: every FAIL_TO_PASS and every PASS_TO_PASS test passes;
* ``RESOLVED_PARTIAL``: some but not all FAIL_TO_PASS tests pass and every PASS_TO_PASS test passes;
* ``RESOLVED_NO``: anything else (including breaking a PASS_TO_PASS test).

RemediationCorrect is 1.0 for a full resolution, ``0.5 × (FAIL_TO_PASS pass rate)`` for a partial one (so partial
credit never reaches a resolution's), and 0.0 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opsgym.outcome import CheckResult

__all__ = [
    "GroupResult",
    "Resolution",
    "pytest_files",
    "resolve",
]

STATUSES = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")
PASSING = frozenset({"PASSED", "XFAIL"})


def pytest_files(tests: list[str]) -> list[str]:
    """The test files behind node ids (``path::name`` → ``path``), in first-seen order."""
    return list(dict.fromkeys(t.split("::", 1)[0] for t in tests))


@dataclass
class GroupResult:
    """One test group (FAIL_TO_PASS or PASS_TO_PASS): which tests passed and which did not, with their status."""

    name: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def rate(self) -> float:
        """Pass rate; an empty group counts as all passing (as SWE-bench does)."""
        return len(self.passed) / self.total if self.total else 1.0

    def check(self, kind: str) -> CheckResult:
        shown = ", ".join(f"{t} ({s})" for t, s in list(self.failed.items())[:5])
        more = f" and {len(self.failed) - 5} more" if len(self.failed) > 5 else ""
        detail = f"{len(self.passed)}/{self.total} passed" + (f"; not passing: {shown}{more}" if self.failed else "")
        return CheckResult(name=self.name, passed=not self.failed, detail=detail, kind=kind)

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.passed, "failure": self.failed, "rate": self.rate}


@dataclass
class Resolution:
    """The verdict on one repository state."""

    f2p: GroupResult
    p2p: GroupResult

    @property
    def status(self) -> str:
        if self.f2p.rate == 1.0 and self.p2p.rate == 1.0:
            return "RESOLVED_FULL"
        if 0.0 < self.f2p.rate < 1.0 and self.p2p.rate == 1.0:
            return "RESOLVED_PARTIAL"
        return "RESOLVED_NO"

    @property
    def resolved(self) -> bool:
        return self.status == "RESOLVED_FULL"

    @property
    def remediation_correct(self) -> float:
        return {"RESOLVED_FULL": 1.0, "RESOLVED_PARTIAL": 0.5 * self.f2p.rate}.get(self.status, 0.0)

    def checks(self) -> list[CheckResult]:
        """FAIL_TO_PASS is the remediation check; a broken PASS_TO_PASS test is collateral damage."""
        return [self.f2p.check("remediation"), self.p2p.check("collateral")]


def _group(name: str, tests: list[str], outcomes: dict[str, str]) -> GroupResult:
    group = GroupResult(name)
    for test in tests:
        status = outcomes.get(test, "MISSING")
        if status in PASSING:
            group.passed.append(test)
        else:
            group.failed[test] = status
    return group


def resolve(fail_to_pass: list[str], pass_to_pass: list[str], outcomes: dict[str, str]) -> Resolution:
    """SWE-bench's resolution of per-test outcomes against the two lists."""
    return Resolution(_group("FAIL_TO_PASS", fail_to_pass, outcomes), _group("PASS_TO_PASS", pass_to_pass, outcomes))
