"""Per-test outcomes from the sandbox's outcome channel (descriptor 3, written by ``inside/pytest_boot.py``).

Grading used to read pytest's printed report, which the code under test can add to (an ``atexit`` handler printing
a second summary, a patched ``sys.exit``) or replace. The channel carries numbered JSON lines instead: the collected
test ids, one line per test phase, and an ``end`` line written after pytest returned. The host trusts it only whole:

* every line is the runner's, numbered 1, 2, 3 … with nothing out of turn (a line written by the code under test
  breaks the numbering, unless it also suppresses the runner's own, which the runner's end-of-session check notices);
* results name collected tests only, each phase of a test once;
* the ``end`` line is there and last, and names nothing tampered with.

A channel that breaks the first two rules, or whose ``end`` line names tampering, is *tampered*; one without an
``end`` line (a crash, a timeout, ``os._exit`` in the code under test) is *incomplete*. Either way no test counts as
passed. A test's status is its worst phase: an error in setup or teardown beats the call's outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from opsgym.swe.grading import STATUSES

__all__ = ["RunReport", "read_report"]

_PHASES = frozenset({"setup", "call", "teardown"})


@dataclass
class RunReport:
    """What the channel said: ``outcomes`` ``{node id: status}`` (empty unless complete and untampered)."""

    outcomes: dict[str, str] = field(default_factory=dict)
    collected: list[str] = field(default_factory=list)
    complete: bool = False
    exit_code: int | None = None
    tampered: list[str] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        return self.complete and not self.tampered


def _combine(old: str | None, new: str) -> str:
    """A test's status over its phases: ERROR beats FAILED beats the rest; otherwise the later phase's status."""
    for worst in ("ERROR", "FAILED"):
        if worst in (old, new):
            return worst
    return new


def read_report(raw: bytes | None) -> RunReport:
    """Check and read the channel's bytes (see the module docstring); never raises for what the sandbox wrote."""
    report = RunReport()
    phases: set[tuple[str, str]] = set()
    outcomes: dict[str, str] = {}
    collected: set[str] = set()
    lines = (raw or b"").decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, 1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = None
        if not isinstance(item, dict) or item.get("n") != number:
            report.tampered.append(f"line {number} of the outcome channel is not the runner's")
            break
        kind = item.get("t")
        if report.complete:
            report.tampered.append(f"line {number} came after the end of the run")
            break
        if kind == "collected" and number == 1 and isinstance(item.get("ids"), list):
            report.collected = [str(i) for i in item["ids"]]
            collected = set(report.collected)
        elif kind == "result" and item.get("id") in collected and item.get("when") in _PHASES \
                and item.get("status") in STATUSES and (item["id"], item["when"]) not in phases:
            phases.add((item["id"], item["when"]))
            outcomes[item["id"]] = _combine(outcomes.get(item["id"]), item["status"])
        elif kind == "end" and isinstance(item.get("exit"), int) and isinstance(item.get("tampered"), list):
            report.complete, report.exit_code = True, item["exit"]
            report.tampered += [str(t)[:300] for t in item["tampered"][:20]]
        else:
            report.tampered.append(f"line {number} of the outcome channel is out of turn: {line[:200]}")
            break
    if report.trusted:
        report.outcomes = outcomes
    return report
